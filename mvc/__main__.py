"""`python -m mvc` runs the command line."""
from mvc.cli import main

if __name__ == "__main__":
    main()
