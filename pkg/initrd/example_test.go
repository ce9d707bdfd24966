package initrd_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/isobuild/isobuild/pkg/initrd"
)

func ExampleEncodeXZ() {
	files := initrd.Files{
		"config.ign": []byte(`{"ignition":{"version":"3.4.0"}}`),
		"etc/coreos-firstboot-network/eth0.nmconnection": []byte("[connection]\nid=eth0\n"),
	}
	payload, err := initrd.EncodeXZ(files)
	if err != nil {
		log.Fatal(err)
	}
	// An embed area is the payload followed by zeros up to its capacity.
	area := make([]byte, 262144)
	copy(area, payload)

	got, err := initrd.DecodeArea(area)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range got.Names() {
		fmt.Printf("%s: %d bytes, network keyfile: %v\n", name, len(got[name]),
			strings.HasPrefix(name, "etc/coreos-firstboot-network/"))
	}
	// Output:
	// config.ign: 32 bytes, network keyfile: false
	// etc/coreos-firstboot-network/eth0.nmconnection: 21 bytes, network keyfile: true
}

func ExampleReader() {
	var buf bytes.Buffer
	if err := initrd.WriteNewc(&buf, initrd.Files{"usr/lib/hello": []byte("hi\n")}); err != nil {
		log.Fatal(err)
	}
	r := initrd.NewReader(&buf)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("ino %d mode %06o %-13s %q\n", h.Ino, h.Mode, h.Name, data)
	}
	// Output:
	// ino 0 mode 040755 usr           ""
	// ino 1 mode 040755 usr/lib       ""
	// ino 2 mode 100600 usr/lib/hello "hi\n"
}

func ExampleNewCompressor() {
	var layer bytes.Buffer
	zw, err := initrd.NewCompressor(&layer, initrd.Gzip)
	if err != nil {
		log.Fatal(err)
	}
	w := initrd.NewWriter(zw)
	data := []byte("#!/bin/sh\necho hello\n")
	if err := w.WriteHeader(&initrd.Header{Name: "hello.sh", Mode: initrd.ModeRegular | 0o755, Nlink: 1, Size: int64(len(data))}); err != nil {
		log.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // writes the trailer
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil { // finishes the gzip member
		log.Fatal(err)
	}
	files, err := initrd.Decode(&layer, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", files["hello.sh"])
	// Output:
	// "#!/bin/sh\necho hello\n"
}
