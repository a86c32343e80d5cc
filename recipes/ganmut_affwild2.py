"""GANmut: a learned polar emotion space on Aff-Wild2 face crops (paper 002). `--help` lists every flag.

The system lives in the package (tfgan_emotion.systems); this script is the same as
`tfgan-emotion train ganmut_affwild2 [flags]`.
"""
import sys

from tfgan_emotion import systems

if __name__ == "__main__":
    sys.exit(systems.main(systems.get("ganmut_affwild2")))
