"""FExGAN: transfer a cartoon character's expression to any affect (paper 004). `--help` lists every flag.

The system lives in the package (tfgan_emotion.systems); this script is the same as
`tfgan-emotion train fexgan_ferg [flags]`.
"""
import sys

from tfgan_emotion import systems

if __name__ == "__main__":
    sys.exit(systems.main(systems.get("fexgan_ferg")))
