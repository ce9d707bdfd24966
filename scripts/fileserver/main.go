// Command fileserver serves a directory over HTTP on a loopback port, for
// scripts/bench-download.sh: net/http's file server sends file bodies with
// sendfile, so that the server takes little CPU from the clients being
// compared. It prints the address it listens on, then serves until killed.
//
//	go run ./scripts/fileserver DIR
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fileserver DIR")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Addr().String())
	log.Fatal(http.Serve(l, http.FileServer(http.Dir(os.Args[1]))))
}
