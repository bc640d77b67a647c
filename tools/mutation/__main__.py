from tools.mutation.run import main

main()
