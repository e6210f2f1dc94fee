"""Helpers for the Playwright tests."""


def wait_for_htmx(page) -> None:
    """Wait until htmx has finished every request and settled what it swapped in.

    htmx binds the `hx-*` attributes of new content only when it settles (20 ms after the swap), so a
    test that types into a just-swapped input before then would fire events nothing listens to yet.
    """
    # A function, not an expression: Playwright evals expressions in the page, which its CSP forbids.
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
