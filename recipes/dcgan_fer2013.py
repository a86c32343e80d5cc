"""Conditional DCGAN on fer2013 plus an inverse encoder for emotion transfer (paper 003). `--help` lists every flag.

The system lives in the package (tfgan_emotion.systems); this script is the same as
`tfgan-emotion train dcgan_fer2013 [flags]`.
"""
import sys

from tfgan_emotion import systems

if __name__ == "__main__":
    sys.exit(systems.main(systems.get("dcgan_fer2013")))
