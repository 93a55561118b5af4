{
  "targets": [
    {
      "target_name": "halo_forge",
      "sources": ["<!@(node scripts/gyp-sources.js)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.js --include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GLIBCXX_USE_CXX11_ABI=1",
        "HALO_BACKEND_NAME=\"<!(node scripts/find-libtorch.js --backend)\""
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.js --lib-dir)",
        "-Wl,-rpath,<!(node scripts/find-libtorch.js --lib-dir)",
        "-ltorch", "-ltorch_cpu", "-lc10",
        "-lzstd"
      ],
      "conditions": [
        ["'<!(node scripts/find-libtorch.js --backend)'=='cuda'", {
          "defines": ["HALO_WITH_GPU=1"],
          "libraries": ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed", "-lcudart"]
        }],
        ["'<!(node scripts/find-libtorch.js --backend)'=='rocm'", {
          "defines": ["HALO_WITH_GPU=1", "__HIP_PLATFORM_AMD__=1", "USE_ROCM=1"],
          "libraries": ["-Wl,--no-as-needed", "-ltorch_hip", "-lc10_hip", "-Wl,--as-needed", "-lamdhip64"]
        }]
      ]
    }
  ]
}
