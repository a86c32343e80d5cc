"""paper 000 (Mertes et al.), label-interpolation cGAN on CIFAR-10.

Placeholder until issue #7 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("cgan_cifar10", "paper 000 (Mertes et al.), label-interpolation cGAN on CIFAR-10", 7))
