from streamgd.cli import console

console()
