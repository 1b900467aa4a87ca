target --target x86_64-linux-gnu --cpu x86-64-v3
