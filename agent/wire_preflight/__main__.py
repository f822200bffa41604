from wire_preflight.cli import main

main()
