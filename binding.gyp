{
  "targets": [
    {
      "target_name": "penstock",
      "sources": [
        "native/addon.cc",
        "native/crc32c.cc",
        "native/transfer.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags": ["-fvisibility=hidden"],
      "conditions": [
        ["OS=='win'", {
          "sources": ["native/io_win.cc"]
        }, {
          "sources": ["native/io_posix.cc"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }]
      ]
    }
  ]
}
