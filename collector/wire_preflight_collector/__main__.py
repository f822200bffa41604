from wire_preflight_collector.cli import main

main()
