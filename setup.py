from setuptools import find_packages, setup


def version():
    ns = {}
    with open("univs_bench/__init__.py") as f:
        exec(f.read(), ns)
    return ns["__version__"]


setup(
    name="univs-bench",
    version=version(),
    description="Benchmark and evaluation suite for unified video segmentation, with UniVS",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["univs_bench", "univs_bench.*"]),
    python_requires=">=3.9",
    install_requires=[
        # torch is installed by the Makefile (TORCH_SPEC) so that CPU and CUDA users pick the build.
        "mmengine>=0.10.4",
        "numpy>=1.23",
        "pycocotools>=2.0.6",
        "scipy>=1.9",
        "opencv-python-headless>=4.6",
        "scikit-image>=0.20",
        "pandas>=1.5",
        "tabulate>=0.9",
        "matplotlib>=3.6",
        "tqdm>=4.64",
        "pillow>=9.0",
    ],
    extras_require={
        "dev": ["pytest>=7", "hypothesis>=6", "ruff>=0.4"],
        "openmmlab": ["mmcv>=2.0.0", "mmdet>=3.0.0"],
    },
    entry_points={"console_scripts": ["univs-bench=univs_bench.cli:main"]},
)
