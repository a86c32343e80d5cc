"""CAAE: edit a face to any continuous (valence, arousal) label (paper 001). `--help` lists every flag.

The system lives in the package (tfgan_emotion.systems); this script is the same as
`tfgan-emotion train caae_affectnet [flags]`.
"""
import sys

from tfgan_emotion import systems

if __name__ == "__main__":
    sys.exit(systems.main(systems.get("caae_affectnet")))
