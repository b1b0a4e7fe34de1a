package web_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
)

// Mount the review UI beside other handlers, over the embedded store, with one moderator.
func Example() {
	dir, err := os.MkdirTemp("", "aura-review-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := index.OpenBolt(filepath.Join(dir, "aura.db"), index.DefaultBoltOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	cases, err := review.NewBoltStore(st.DB())
	if err != nil {
		log.Fatal(err)
	}

	// What `aura users add alice` does.
	hash, err := web.HashPassword("correct horse battery")
	if err != nil {
		log.Fatal(err)
	}
	if err := cases.PutUser(context.Background(), &review.User{Name: "alice", Role: review.Moderator, PasswordHash: hash}); err != nil {
		log.Fatal(err)
	}

	srv, err := web.New(web.DefaultConfig(), web.Deps{Cases: cases, Works: st})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/review/", srv)

	// Without a session, the queue sends the browser to the login page.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/review/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 303 /review/login
}
