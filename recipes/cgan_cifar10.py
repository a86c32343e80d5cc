"""Label-interpolation cGAN on CIFAR-10 (paper 000, Mertes et al.; SPECS "Label-interpolation cGAN").

Trains a conditional DCGAN on one-hot labels, then queries it with labels between classes and measures what
comes out (tfgan_emotion/cgan_recipe.py has the details). --data-dir reads the real dataset; without it the
built-in stand-in is used. --help lists every flag.
"""
import sys

from tfgan_emotion.cgan_recipe import main

if __name__ == "__main__":
    sys.exit(main("cifar10"))
