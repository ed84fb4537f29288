// An independent check of civitas's transparency log with Go's golang.org/x/mod/sumdb/note and
// sumdb/tlog (Debian's golang-golang-x-mod-dev, GOPATH mode): the checkpoint's signature with
// the published verifier key, the tree hash recomputed from the public C2SP tiles, inclusion
// proofs of some entries, and consistency with an earlier checkpoint.
//
// Usage: go run main.go BASE_URL [OLD_SIZE OLD_ROOT_BASE64]
// Prints "ok <size> <root>" and exits 0, or prints the failure and exits 1.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// tiles reads C2SP tile paths (Go's paths carry the height: tile/8/L/N → tile/L/N).
type tiles struct{ base string }

func (t tiles) Height() int { return 8 }
func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		out[i] = get(t.base + "/log/" + path)
	}
	return out, nil
}
func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	if len(os.Args) < 2 {
		fail("usage: main BASE_URL [OLD_SIZE OLD_ROOT]")
	}
	base := os.Args[1]
	vkey := strings.TrimSpace(string(get(base + "/log/key")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key %q: %v", vkey, err)
	}
	msg := get(base + "/log/checkpoint")
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] != verifier.Name() {
		fail("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size %q", lines[1])
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != 32 {
		fail("root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	tree := tlog.Tree{N: size, Hash: root}
	hr := tlog.TileHashReader(tree, tiles{base})
	th, err := tlog.TreeHash(size, hr)
	if err != nil || th != root {
		fail("tree hash from the tiles %v (err %v) is not the checkpoint's root %v", th, err, root)
	}
	for _, i := range []int64{0, size / 2, size - 1} {
		if size == 0 {
			break
		}
		proof, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			fail("prove record %d: %v", i, err)
		}
		leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			fail("leaf %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, size, root, i, leaf[0]); err != nil {
			fail("inclusion of %d: %v", i, err)
		}
	}
	if len(os.Args) == 4 {
		oldSize, err := strconv.ParseInt(os.Args[2], 10, 64)
		if err != nil {
			fail("old size")
		}
		oldBytes, err := base64.StdEncoding.DecodeString(os.Args[3])
		if err != nil || len(oldBytes) != 32 {
			fail("old root")
		}
		var oldRoot tlog.Hash
		copy(oldRoot[:], oldBytes)
		proof, err := tlog.ProveTree(size, oldSize, hr)
		if err != nil {
			fail("prove tree %d -> %d: %v", oldSize, size, err)
		}
		if err := tlog.CheckTree(proof, size, root, oldSize, oldRoot); err != nil {
			fail("consistency %d -> %d: %v", oldSize, size, err)
		}
	}
	fmt.Printf("ok %d %s\n", size, lines[2])
}
