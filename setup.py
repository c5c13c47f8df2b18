"""The one compiled part of mvc: the diff's per-block kernel (mvc/repo/_diffkernel.c).

Everything else is in pyproject.toml.  The extension is optional: without a C compiler the
install still succeeds and `mvc diff` falls back to numpy (slower on half-precision tensors:
docs/design.md, "Diff: the compiled kernel")."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("mvc.repo._diffkernel", ["mvc/repo/_diffkernel.c"], optional=True)])
