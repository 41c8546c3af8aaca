from digihuman.cli import main

main()
