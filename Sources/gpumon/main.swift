import GPUMonCLI

await GPUMonMain.main()
