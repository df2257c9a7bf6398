package tasks

// Windows has neither O_NOFOLLOW nor FIFOs to block on: the kinds' Lstat
// refuses a symbolic link or a non-regular file before the open.
const (
	openNonBlock = 0
	openNoFollow = 0
)
