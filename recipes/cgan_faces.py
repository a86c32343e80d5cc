"""Label-interpolation cGAN on FACES (paper 000). `--help` lists every flag.

The system lives in the package (tfgan_emotion.systems); this script is the same as
`tfgan-emotion train cgan_faces [flags]`.
"""
import sys

from tfgan_emotion import systems

if __name__ == "__main__":
    sys.exit(systems.main(systems.get("cgan_faces")))
