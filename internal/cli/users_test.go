package cli_test

import (
	"strings"
	"testing"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pwFile := e.file("pw", []byte("correct horse battery\n"))
	e.mustRun(0, "users", "add", "--role", "admin", "--password-file", pwFile, "ada")
	e.mustRun(0, "users", "add", "--password-file", pwFile, "mo")
	list := e.mustRun(0, "users", "list").stdout
	if !strings.Contains(list, "ada") || !strings.Contains(list, "admin") || !strings.Contains(list, "mo ") || !strings.Contains(list, "moderator") {
		t.Fatalf("users list:\n%s", list)
	}
	e.mustRun(0, "users", "disable", "mo")
	if list := e.mustRun(0, "users", "list").stdout; !strings.Contains(list, "disabled") {
		t.Fatalf("after disable:\n%s", list)
	}
	// A password reset keeps the account disabled, and says so.
	if r := e.mustRun(0, "users", "add", "--password-file", pwFile, "mo"); !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("password reset of a disabled user: %s", r.stdout)
	}
	if list := e.mustRun(0, "users", "list").stdout; !strings.Contains(list, "disabled") {
		t.Fatalf("a password reset enabled the account:\n%s", list)
	}
	e.mustRun(0, "users", "delete", "mo")
	if r := e.run("users", "delete", "mo"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("delete twice: exit %d %s", r.code, r.stderr)
	}
	short := e.file("short", []byte("abc\n"))
	for _, args := range [][]string{
		{"users", "add", "--password-file", short, "x"},                    // too short
		{"users", "add", "--role", "root", "--password-file", pwFile, "x"}, // no such role
		{"users", "add", "--password-file", pwFile, "bad name"},            // invalid name: ErrInvalid, exit 1
		{"users", "frobnicate"},
	} {
		if r := e.run(args...); r.code == 0 {
			t.Errorf("aura %v: exit 0, want a failure", args)
		}
	}
	if list := e.mustRun(0, "users", "list").stdout; strings.Contains(list, "x ") {
		t.Fatalf("a refused user was stored:\n%s", list)
	}
}
