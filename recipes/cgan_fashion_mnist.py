"""paper 000 (Mertes et al.), label-interpolation cGAN on Fashion-MNIST.

Placeholder until issue #7 lands: it says so and trains nothing.
"""
import sys

from tfgan_emotion.run import pending_recipe

if __name__ == "__main__":
    sys.exit(pending_recipe("cgan_fashion_mnist", "paper 000 (Mertes et al.), label-interpolation cGAN on Fashion-MNIST", 7))
