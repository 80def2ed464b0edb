"""Post-training quantization builders, one module per toolchain (ONNX Runtime, OpenVINO, NCNN...)."""
