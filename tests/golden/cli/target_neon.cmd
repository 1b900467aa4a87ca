target --target aarch64-linux-gnu
