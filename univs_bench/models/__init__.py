"""Models: ``univs/`` (the UniVS reference network, torch), ``zoo`` (what `univs-bench run --model`
can run, torch-free until a network is built) and ``adapters/`` (competitors).

Kept light on purpose: ``univs_bench.registry.MODELS`` imports ``univs_bench.models.univs``
(torch) only when a network is built.
"""
