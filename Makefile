# Every target calls tasks.py, which needs only python3 (it makes and fills .venv itself).
PY ?= python3

.PHONY: book test notebooks student instructor pdf bench lab lock clean
book:      ; $(PY) tasks.py book
test:      ; $(PY) tasks.py test
notebooks: ; $(PY) tasks.py notebooks
student:   ; $(PY) tasks.py student
instructor: ; $(PY) tasks.py instructor
pdf:       ; $(PY) tasks.py pdf
bench:     ; $(PY) tasks.py bench
lab:       ; $(PY) tasks.py lab
lock:      ; $(PY) tasks.py lock
clean:     ; $(PY) tasks.py clean
