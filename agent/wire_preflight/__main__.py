from wire_preflight.cli.main import main

main()
