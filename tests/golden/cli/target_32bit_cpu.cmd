target --target x86_64-linux-gnu --cpu i686
