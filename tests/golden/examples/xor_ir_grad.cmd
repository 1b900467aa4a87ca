ir examples/xor.nn --stage=grad
