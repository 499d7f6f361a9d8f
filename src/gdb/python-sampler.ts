// A gdb Python command that walks every thread's frames in one round trip and prints them as one JSON line.
// One command instead of one `-stack-list-frames` per thread: the target is stopped for less time.
// Loaded at attach when gdb has Python; the MI commands are the fallback.

/** Name of the gdb command the script defines. Argument: the maximum depth. */
export const PYTHON_COMMAND = 'pmptop-sample';

/**
The script. Output: `[[tid, name, [[func, file, line, lib], ...]], ...]`, frames leaf first; `func` is `??`
when gdb cannot name the frame, `file`/`lib` null when unknown, `line` 0 when unknown. A thread whose frames
cannot be read is `[tid, name, null, "error text"]`.
*/
export const PYTHON_SOURCE = String.raw`
import gdb, json

class PmptopSample(gdb.Command):
    def __init__(self):
        super(PmptopSample, self).__init__("${PYTHON_COMMAND}", gdb.COMMAND_DATA)
        self.solibs = {}

    def lib(self, pc):
        # solib_name is a linear search: cache per page.
        page = pc >> 12
        if page in self.solibs:
            return self.solibs[page]
        name = gdb.solib_name(pc)
        self.solibs[page] = name
        return name

    def invoke(self, arg, from_tty):
        depth = int(arg) if arg else 64
        out = []
        try:
            selected = gdb.selected_thread()
        except Exception:
            selected = None
        for t in gdb.selected_inferior().threads():
            tid = t.ptid[1] or t.ptid[0]
            name = t.name or ""
            try:
                t.switch()
                f = gdb.newest_frame()
                frames = []
                while f is not None and len(frames) < depth:
                    # The function symbol's symtab names the file without a line-table lookup (find_sal is
                    # slower and the line is not part of a frame's key).
                    sym = None
                    try:
                        sym = f.function()
                    except Exception:
                        pass
                    fname = sym.symtab.filename if sym is not None and sym.symtab is not None else None
                    # Like MI's "from": the library only when there is no source file.
                    frames.append([f.name() or "??", fname, 0, None if fname else self.lib(f.pc())])
                    try:
                        f = f.older()
                    except gdb.error:
                        break
                out.append([tid, name, frames])
            except Exception as e:
                out.append([tid, name, None, str(e)])
        if selected is not None and selected.is_valid():
            selected.switch()
        gdb.write(json.dumps(out) + "\n")

    def reset(self):
        self.solibs = {}

PmptopSample()
`;
