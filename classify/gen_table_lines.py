"""What the table generators (gen_tld_table.py, gen_country_code_table.py) share: a C++ array's
items printed several to a line, as clang-format would wrap them."""


def print_items(items, width=110):
    """Prints `items` (each a C++ initializer followed by a comma), indented, lines at most `width`."""
    line = "   "
    for item in items:
        if len(line) + len(item) + 1 > width:
            print(line)
            line = "   "
        line += " " + item
    print(line)
