package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aura-art/aura/fetch"
)

// Download a picture; a URL that leads to a private or loopback address is refused when it
// is dialled.
func ExampleFetcher_Fetch() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("\xff\xd8\xff picture bytes"))
	}))
	defer srv.Close()
	ctx := context.Background()

	strict, _ := fetch.New(fetch.DefaultConfig())
	_, err := strict.Fetch(ctx, srv.URL) // httptest listens on 127.0.0.1
	fmt.Println("loopback refused:", errors.Is(err, fetch.ErrForbidden))

	cfg := fetch.DefaultConfig()
	cfg.AllowLoopback = true // tests only
	lenient, _ := fetch.New(cfg)
	defer lenient.CloseIdleConnections()
	body, err := lenient.Fetch(ctx, srv.URL)
	fmt.Println(len(body), err)
	// Output:
	// loopback refused: true
	// 17 <nil>
}
