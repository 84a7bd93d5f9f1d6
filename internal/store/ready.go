package store

import "encoding/hex"

// K.ready, the list of tasks added to run at once, names each task in a
// compact form, its entry, since a queued task's entry is a good part of
// what it costs Redis (see "How it is stored" in the README):
//
//   - a key that is a UUID as docket makes them (36 characters, lowercase
//     hexadecimal in groups of 8-4-4-4-12) is "\x00" and its 16 bytes:
//     17 bytes rather than 36;
//   - a key that starts with the byte 0 or 1 is "\x01" and the key, so that
//     no key is mistaken for another's entry;
//   - any other key is itself.
//
// Go writes the entries (Add sends each key with its entry, which add.lua
// lists); the scripts read them with ready_key and, to find a key in the
// list, write one with ready_entry (lib.lua). TestReadyEntries checks that
// the two languages agree.

// readyEntry is key as K.ready lists it.
func readyEntry(key string) string {
	if id, ok := uuidBytes(key); ok {
		return "\x00" + string(id[:])
	}
	if key != "" && key[0] <= 1 {
		return "\x01" + key
	}
	return key
}

// readyKey is the key of an entry of K.ready. An entry a version before
// the compact form wrote (the key itself) reads as that key, but for a key
// that starts with the byte 1.
func readyKey(entry string) string {
	switch {
	case len(entry) == 17 && entry[0] == 0:
		var text [36]byte
		id := entry[1:]
		at := 0
		for i, group := range []int{4, 2, 2, 2, 6} {
			if i > 0 {
				text[at] = '-'
				at++
			}
			hex.Encode(text[at:], []byte(id[:group]))
			at += 2 * group
			id = id[group:]
		}
		return string(text[:])
	case entry != "" && entry[0] == 1:
		return entry[1:]
	}
	return entry
}

// uuidBytes reads key as a UUID in its canonical lowercase text, and
// reports whether it is one. It allocates nothing: Add reads every key.
func uuidBytes(key string) (id [16]byte, ok bool) {
	if len(key) != 36 || key[8] != '-' || key[13] != '-' || key[18] != '-' || key[23] != '-' {
		return id, false
	}
	at := 0
	for _, group := range [5][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		for i := group[0]; i < group[1]; i += 2 {
			hi, lo := lowerHex(key[i]), lowerHex(key[i+1])
			if hi < 0 || lo < 0 {
				return id, false // uppercase too: the entry is read back in lowercase
			}
			id[at] = byte(hi<<4 | lo)
			at++
		}
	}
	return id, true
}

// lowerHex is the value of a lowercase hexadecimal digit, or -1.
func lowerHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
