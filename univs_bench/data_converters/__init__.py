"""Official dataset layouts -> unified schema (converters), and predictions -> official formats (writers).

One module per dataset family; importing this package registers every converter in
``univs_bench.registry.CONVERTERS``.
"""
from .base import BaseConverter, BaseWriter, ConvertReport, MaskResolver  # noqa: F401
from . import vos  # noqa: F401
