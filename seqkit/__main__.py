"""`python -m seqkit` runs the same CLI as the `seqkit` console script."""

from seqkit.cli import main

if __name__ == "__main__":
    main()
