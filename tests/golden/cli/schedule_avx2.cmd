ir examples/fashion_mlp.nn --stage=schedule --target x86_64-linux-gnu --cpu x86-64-v3 --threads 2
