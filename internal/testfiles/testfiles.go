// Package testfiles makes small valid PDF, JPEG and PNG files for tests and examples.
package testfiles

import (
	"bytes"
	"hash/crc32"
	"strconv"
)

// PDF returns a minimal well-formed one-page PDF whose content mentions label, so that
// different labels give different bytes.
func PDF(label string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	b.WriteString("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	b.WriteString("2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n")
	b.WriteString("3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n")
	b.WriteString("% " + strconv.Quote(label) + "\n")
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// JPEG returns a small byte sequence with JPEG's start and end markers, a JFIF header, a
// comment holding label and a 1×1 frame header.
func JPEG(label string) []byte { return JPEGSized(label, 1, 1) }

// JPEGSized is JPEG declaring width×height pixels in its frame header (the bytes that
// follow are not a real scan: enough for code that reads headers, not for a decoder).
func JPEGSized(label string, width, height int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00})
	b.Write([]byte{0xFF, 0xFE, 0x00, byte(2 + len(label))})
	b.WriteString(label)
	b.Write([]byte{0xFF, 0xC0, 0x00, 0x0B, 0x08, byte(height >> 8), byte(height), byte(width >> 8), byte(width), 0x01, 0x01, 0x11, 0x00})
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

// PNG returns a 1×1 PNG with a text chunk holding label.
func PNG(label string) []byte { return PNGSized(label, 1, 1) }

// PNGSized is PNG declaring width×height pixels in its header chunk (its image data stays
// one pixel: a decompression bomb's shape, small on disk).
func PNGSized(label string, width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk(&b, "IHDR", []byte{byte(width >> 24), byte(width >> 16), byte(width >> 8), byte(width),
		byte(height >> 24), byte(height >> 16), byte(height >> 8), byte(height), 8, 0, 0, 0, 0})
	chunk(&b, "tEXt", append([]byte("Comment\x00"), label...))
	chunk(&b, "IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01})
	chunk(&b, "IEND", nil)
	return b.Bytes()
}

func chunk(b *bytes.Buffer, typ string, data []byte) {
	n := len(data)
	b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	start := b.Len()
	b.WriteString(typ)
	b.Write(data)
	sum := crc32.ChecksumIEEE(b.Bytes()[start:])
	b.Write([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
}
