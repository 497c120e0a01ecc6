module github.com/bulwark-go/bulwark/e2e

go 1.26.0

replace github.com/bulwark-go/bulwark => ..

require (
	github.com/bulwark-go/bulwark v0.0.0-00010101000000-000000000000
	github.com/chromedp/chromedp v0.23.1
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
