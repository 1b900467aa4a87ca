ir examples/xor.nn --stage=simplifed
