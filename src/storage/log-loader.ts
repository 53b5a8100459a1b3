/**
 * LogLoader: turns a partition directory into its segments at startup (KAFKA-NOTES §1.8).
 * After a clean shutdown nothing is scanned: indexes are trusted and only the active segment's tail
 * (after its last index entry) is walked to find the log end offset. Otherwise every segment from the
 * one holding the recovery point is recovered, and a segment that had to be truncated takes every later
 * segment with it — their bytes followed a hole.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Io } from '../io/types.js';
import { log } from '../logger.js';
import {
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  LogSegment,
  TIME_INDEX_FILE_SUFFIX,
  parseSegmentFileName,
  type SegmentOptions,
} from './segment.js';

export interface LoadOptions {
  dir: string;
  io: Io;
  segmentOptions: SegmentOptions;
  /** From `recovery-point-offset-checkpoint`; absent means recover from the first segment. */
  recoveryPoint?: number;
  /** From `log-start-offset-checkpoint`. */
  logStartOffset?: number;
  /** `.kafka_cleanshutdown` was present. */
  cleanShutdown: boolean;
}

export interface LoadedLog {
  segments: LogSegment[];
  logStartOffset: number;
  logEndOffset: number;
  recoveryPoint: number;
  /** Segments whose batches were scanned and CRC-checked (0 after a clean shutdown). */
  recoveredSegments: number;
  truncatedBytes: number;
}

/** Files of interrupted operations, removed before loading (Kafka's removeTempFilesAndCollectSwapFiles). */
const LEFTOVER_SUFFIXES = [DELETED_FILE_SUFFIX, '.cleaned', '.tmp'];

/** Index of the segment holding `offset` (the last with baseOffset ≤ offset), or -1 below the first. */
export function floorSegmentIndex(segments: readonly LogSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export function loadLog(options: LoadOptions): LoadedLog {
  const { dir, io, segmentOptions } = options;
  fs.mkdirSync(dir, { recursive: true });
  const names = fs.readdirSync(dir);
  const bases: number[] = [];
  for (const name of names) {
    if (LEFTOVER_SUFFIXES.some((s) => name.endsWith(s))) {
      fs.rmSync(path.join(dir, name), { force: true, recursive: true });
      continue;
    }
    const base = parseSegmentFileName(name, LOG_FILE_SUFFIX);
    if (base !== null) bases.push(base);
  }
  const baseSet = new Set(bases);
  for (const name of names) {
    // An index without its log is useless (Kafka deletes these orphans too).
    const orphan = parseSegmentFileName(name, INDEX_FILE_SUFFIX) ?? parseSegmentFileName(name, TIME_INDEX_FILE_SUFFIX);
    if (orphan !== null && !baseSet.has(orphan)) fs.rmSync(path.join(dir, name), { force: true });
  }
  bases.sort((a, b) => a - b);
  let segments = bases.map((base) => LogSegment.open(dir, base, io, segmentOptions));

  let recoveredSegments = 0;
  let truncatedBytes = 0;
  let activeNextOffset: number | null = null;
  const recoveryPoint = options.recoveryPoint ?? 0;
  const recoverFrom = options.cleanShutdown ? segments.length : Math.max(0, floorSegmentIndex(segments, recoveryPoint));
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (i < recoverFrom && segment.hasIndexFiles()) continue;
    const result = segment.recover();
    recoveredSegments++;
    truncatedBytes += result.truncated;
    if (i === segments.length - 1) activeNextOffset = result.nextOffset;
    if (result.truncated > 0 && i >= recoverFrom && i < segments.length - 1) {
      log.warn({ dir, segment: segment.baseOffset, dropped: segments.length - 1 - i }, 'deleting the segments after a truncated one');
      for (const later of segments.slice(i + 1)) later.deleteFilesNow();
      segments = segments.slice(0, i + 1);
      activeNextOffset = result.nextOffset;
      break;
    }
  }

  if (segments.length > 0 && activeNextOffset === null) {
    // Clean shutdown: only the active segment's tail is walked, and it must end exactly at the file's end.
    const active = segments[segments.length - 1]!;
    const walked = active.loadNextOffset();
    const fileSize = fs.statSync(active.logPath).size;
    if (walked.end !== fileSize) {
      log.warn({ dir, segment: active.baseOffset, walked: walked.end, fileSize }, 'active segment tail is not whole batches despite a clean shutdown; recovering it');
      const result = active.recover();
      recoveredSegments++;
      truncatedBytes += result.truncated;
      activeNextOffset = result.nextOffset;
    } else {
      activeNextOffset = walked.nextOffset;
    }
  }

  const checkpointedStart = options.logStartOffset;
  if (segments.length === 0 || (checkpointedStart !== undefined && activeNextOffset! < checkpointedStart)) {
    // Everything below the checkpointed log start offset is gone: start over there (Kafka does the same).
    for (const segment of segments) segment.deleteFilesNow();
    segments = [LogSegment.create(dir, checkpointedStart ?? 0, io, segmentOptions)];
    activeNextOffset = checkpointedStart ?? 0;
  }

  const logEndOffset = activeNextOffset!;
  segments[segments.length - 1]!.activate();
  return {
    segments,
    logStartOffset: Math.max(checkpointedStart ?? 0, segments[0]!.baseOffset),
    logEndOffset,
    recoveryPoint: options.cleanShutdown ? logEndOffset : Math.min(recoveryPoint, logEndOffset),
    recoveredSegments,
    truncatedBytes,
  };
}
