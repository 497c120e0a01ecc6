module example.com/fake

go 1.26.0

require (
	example.com/unlisted v1.0.0
	github.com/stretchr/testify v1.12.1 // indirect
)
