package worker_test

import (
	"errors"
	"fmt"

	"github.com/aura-art/aura/worker"
)

// A submission is read strictly: what is wrong with a bad one is said in its error, which
// becomes the dead letter's reason.
func ExampleDecodeSubmission() {
	const maxInline = 1 << 20
	s, err := worker.DecodeSubmission([]byte(`{"schema_version":1,"id":"up-1","tenant":"acme",
		"creator":"alice","image":{"url":"https://cdn.example.com/up-1.jpg"}}`), maxInline)
	fmt.Println(s.Tenant, s.ID, s.Creator, s.Image.URL, err)

	_, err = worker.DecodeSubmission([]byte(`{"schema_version":2,"id":"up-2"}`), maxInline)
	fmt.Println(err, errors.Is(err, worker.ErrPermanent))

	_, err = worker.DecodeSubmission([]byte(`{"schema_version":1,"id":"up-3","tenant":"acme","image":{"data":"not base64!"}}`), maxInline)
	fmt.Println(err)
	// Output:
	// acme up-1 alice https://cdn.example.com/up-1.jpg <nil>
	// bad message: unknown schema_version 2 (this worker reads 1) true
	// bad message: submission up-3: image.data is not standard base64: illegal base64 data at input byte 3
}
