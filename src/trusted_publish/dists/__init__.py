"""The distributions stage: find every file in the packages folder, read it (bounded, never
extracted) and judge it by PyPI's rules before anything is sent."""
