package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/aura-art/aura/api"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
)

// Serve the API over a registry, register a work and check a copy of it.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "aura-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := index.OpenBolt(filepath.Join(dir, "aura.db"), index.DefaultBoltOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	reg, err := index.NewRegistry(store, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		log.Fatal(err)
	}
	cfg := api.DefaultConfig()
	cfg.Tokens = map[string]string{"gallery": "gallery-secret-token-1"}
	srv := httptest.NewServer(api.New(cfg, reg, nil))
	defer srv.Close()

	post := func(path string, body []byte) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer gallery-secret-token-1")
		req.Header.Set("Content-Type", "image/jpeg")
		resp, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		fmt.Println(resp.StatusCode)
		return m
	}
	reg1 := post("/v1/works?creator_id=alice&title=Harbour", imgtest.Photo(400, 300, 1))
	fmt.Println(reg1["status"], reg1["work"].(map[string]any)["registered_by"])
	v := post("/v1/check?creator=bob", imgtest.Reencoded(400, 300, 1, 75))
	fmt.Println(v["verdict"])
	// Output:
	// 201
	// registered gallery
	// 200
	// likely_forgery
}
