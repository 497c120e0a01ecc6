package main

import _ "example.com/fake/tlv"

func main() {}
