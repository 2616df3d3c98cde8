package onboarding

import (
	"encoding/binary"
	"fmt"
)

// Image dimension limits: a small file may declare a huge image (a decompression bomb),
// which any reviewer or viewer that decodes it would pay for. Uploads are refused from
// the dimensions their headers declare, read while streaming, without decoding.
const (
	// DefaultMaxImagePixels is the largest image area accepted unless UploadRules says
	// otherwise: 40 megapixels, above any phone camera's photo.
	DefaultMaxImagePixels int64 = 40_000_000
	// DefaultMaxImageSide is the longest side accepted, in pixels.
	DefaultMaxImageSide = 12_000
)

// imageProbe reads an image's declared width and height from its first bytes as they
// stream past: PNG's IHDR chunk, or the frame header (SOF) among a JPEG's segments. It
// holds at most a few bytes.
type imageProbe struct {
	format Format
	state  int  // JPEG: probeMarker, probeLength, probeFrame, probeSkip
	marker byte // the JPEG segment being read
	skip   int  // JPEG segment bytes still to skip
	buf    []byte
	n      int64 // bytes seen
	done   bool
	width  int
	height int
	err    error // a structure no decoder would read
}

const (
	probeMarker = iota
	probeLength
	probeFrame
	probeSkip
)

// pngHeaderLen covers the signature and the IHDR chunk's length, type, width and height.
const pngHeaderLen = 24

func newImageProbe(f Format) *imageProbe {
	return &imageProbe{format: f, buf: make([]byte, 0, pngHeaderLen)}
}

// write feeds the next bytes of the file.
func (p *imageProbe) write(b []byte) {
	for len(b) > 0 && !p.done && p.err == nil {
		switch p.format {
		case FormatPNG:
			b = p.png(b)
		case FormatJPEG:
			b = p.jpeg(b)
		default:
			p.done = true
		}
	}
}

func (p *imageProbe) png(b []byte) []byte {
	take := min(len(b), pngHeaderLen-len(p.buf))
	p.buf = append(p.buf, b[:take]...)
	if len(p.buf) == pngHeaderLen {
		if string(p.buf[12:16]) != "IHDR" {
			p.err = fmt.Errorf("%w: the PNG does not start with its header chunk", ErrUnsupportedFormat)
		}
		p.width = int(binary.BigEndian.Uint32(p.buf[16:20]))
		p.height = int(binary.BigEndian.Uint32(p.buf[20:24]))
		p.done = true
	}
	return b[take:]
}

func (p *imageProbe) jpeg(b []byte) []byte {
	if p.n < 2 { // SOI, already checked by DetectFormat
		take := min(len(b), int(2-p.n))
		p.n += int64(take)
		return b[take:]
	}
	switch p.state {
	case probeMarker:
		c := b[0]
		p.n++
		switch {
		case len(p.buf) == 0 && c != 0xFF:
			p.err = fmt.Errorf("%w: malformed JPEG segments", ErrUnsupportedFormat)
		case c == 0xFF: // a marker's prefix, or fill
			p.buf = append(p.buf[:0], c)
		case c == 0xD9 || c == 0xDA: // end of image, or scan data, before any frame header
			p.err = fmt.Errorf("%w: the JPEG has no frame header", ErrUnsupportedFormat)
		case c == 0x01 || c >= 0xD0 && c <= 0xD8: // markers without a length
			p.buf = p.buf[:0]
		default:
			p.marker, p.state, p.buf = c, probeLength, p.buf[:0]
		}
		return b[1:]
	case probeLength, probeFrame:
		need := 2
		if p.state == probeFrame {
			need = 5 // precision, height, width
		}
		take := min(len(b), need-len(p.buf))
		p.buf = append(p.buf, b[:take]...)
		p.n += int64(take)
		if len(p.buf) < need {
			return b[take:]
		}
		if p.state == probeFrame {
			p.height = int(binary.BigEndian.Uint16(p.buf[1:3]))
			p.width = int(binary.BigEndian.Uint16(p.buf[3:5]))
			p.done = true
			return b[take:]
		}
		length := int(binary.BigEndian.Uint16(p.buf))
		p.buf = p.buf[:0]
		isFrame := p.marker >= 0xC0 && p.marker <= 0xCF && p.marker != 0xC4 && p.marker != 0xC8 && p.marker != 0xCC
		switch {
		case length < 2 || isFrame && length < 7:
			p.err = fmt.Errorf("%w: malformed JPEG segment", ErrUnsupportedFormat)
		case isFrame:
			p.state = probeFrame
		default:
			p.state, p.skip = probeSkip, length-2
		}
		return b[take:]
	default: // probeSkip
		take := min(len(b), p.skip)
		p.skip -= take
		p.n += int64(take)
		if p.skip == 0 {
			p.state = probeMarker
		}
		return b[take:]
	}
}

// check says whether the declared dimensions are within the limits; it is nil until they
// are known.
func (p *imageProbe) check(maxPixels int64, maxSide int) error {
	if p.err != nil || !p.done {
		return p.err
	}
	if p.width > maxSide || p.height > maxSide || int64(p.width)*int64(p.height) > maxPixels {
		return fmt.Errorf("%w: %d×%d pixels declared; the limit is %d pixels a side and %d in all",
			ErrImageTooLarge, p.width, p.height, maxSide, maxPixels)
	}
	return nil
}

// finish is the probe's verdict at the end of the file.
func (p *imageProbe) finish() error {
	if !p.done && p.err == nil && (p.format == FormatPNG || p.format == FormatJPEG) {
		return fmt.Errorf("%w: the %s ends before its dimensions", ErrTruncatedFile, p.format)
	}
	return p.err
}
