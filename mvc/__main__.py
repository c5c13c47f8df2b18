"""`python -m mvc` runs the command line."""
from mvc.cli.launch import main

if __name__ == "__main__":
    main()
